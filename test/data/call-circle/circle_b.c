/* Called by circle_a.c, and calls it back. */
#include "circle.h"

int circle_b(int n)
{
	return circle_a_up(n);
}
