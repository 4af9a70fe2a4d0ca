/* Hexadecimal digits, for the parsers of addresses, names and frames. */
#pragma once

/* The value of one hexadecimal digit in any case, or -1. */
static inline int ky_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
