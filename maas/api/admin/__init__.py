"""Admin REST API (platform admin keys): for the console and for automation."""
