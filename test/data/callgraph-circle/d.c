/* check_call_graph.py's fixture: calls down into the circle, not part of it. */
int fixture_a(int n);

int fixture_d(void)
{
	return fixture_a(3);
}
