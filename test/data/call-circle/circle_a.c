/* Calls circle_b.c, which calls back into this file: a circle. */
#include "circle.h"

int circle_a_down(int n)
{
	return n > 0 ? circle_b(n - 1) : 0;
}

int circle_a_up(int n)
{
	return n + 1;
}
