/* check_call_graph.py's fixture: closes the circle back to a.c. */
int fixture_a(int n);

int fixture_c(int n)
{
	return fixture_a(n) * 2;
}
