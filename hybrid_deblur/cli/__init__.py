"""Command-line interface ``hybrid-deblur`` (one module per sub-command)."""
