"""The hot core: normalisation, text views and the Aho-Corasick matcher over Arrow buffers."""
