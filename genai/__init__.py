"""The PetClinic assistant's package: one module per concern, beside the handler lambda_function.py.

Imports run one way, from the handler down: responses, metrics, model -> toolset -> writes -> tools,
facts -> limits -> memory -> dataapi -> clients -> callers -> request -> budget -> config -> errors,
profiles, understanding, log, es256. Nothing here imports the handler. docs/architecture.md has the map.
"""
