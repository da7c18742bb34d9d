"""Forecasting: the science between the store and the advice (ET0, water balance, AWD, risk).

Pure functions of pandas data; reading from and writing to the store happens in the commands
that call them.
"""
