"""The use cases the functions call: collect an interaction, recommend, search,
compute popularity, load the catalogue, bootstrap.  They take adapters as
arguments, so tests and handlers pass real ones in."""
