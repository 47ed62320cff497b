"""The probing task catalogue: labels, edges, tree distances and sentence labels built from a corpus."""
