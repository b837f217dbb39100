"""The static website: templates, assets and the publisher."""
