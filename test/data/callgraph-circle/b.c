/* check_call_graph.py's fixture: the middle of the circle. */
int fixture_c(int n);

int fixture_b(int n)
{
	return fixture_c(n) + 1;
}
