"""Industrial toolbox: domain tools (thing models, protocol code, diagnosis) below store and api."""
