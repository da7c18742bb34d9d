"""Tests of the alerts: the pure core (lifecycle, inhibition, routing) and the channels."""
