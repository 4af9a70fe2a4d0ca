/* A fixture for check_call_graph.py: a.c calls b.c, b.c calls c.c, c.c
 * calls a.c back, and d.c only calls down into a.c. */
int fixture_b(int n);

int fixture_a(int n)
{
	return n > 0 ? fixture_b(n - 1) : 0;
}
