/* The fixture's header (never compiled). */
