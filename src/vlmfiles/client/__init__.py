"""``vlmfiles.client.exceptions``: the official SDK's import path, for drop-in code."""
