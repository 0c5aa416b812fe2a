"""Tests of the Graph API simulator (include/graph_simulator), over real loopback HTTP."""
