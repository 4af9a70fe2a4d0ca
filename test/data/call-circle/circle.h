/* A fixture for test/check_calls.py: two files that call each other. */
#pragma once
int circle_a_down(int n);
int circle_a_up(int n);
int circle_b(int n);
