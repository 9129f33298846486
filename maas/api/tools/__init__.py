"""`/v1/tools`: the industrial toolbox over HTTP (thing models, protocol parsers, diagnosis)."""
