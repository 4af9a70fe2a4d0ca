/* A fixture private header (never compiled). */
