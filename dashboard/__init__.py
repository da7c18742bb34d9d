"""Dashboard: the Dash app farmers open on their phones (Vietnamese first, English too)."""
