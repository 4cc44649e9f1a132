"""Models: the embedded tiny VLM builders, the loader for local HF VLM directories (`models.load`),
model names the CLI accepts (`models.resolve`) and the fast generation loop (`models.fastgen`)."""
