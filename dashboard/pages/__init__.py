"""One module per page: a layout function and the callbacks that serve it."""
