"""TextAttack as a suite: recipes by name, offline where possible, faster than the stock wrapper.

Nothing here imports textattack at package import; ``environment.import_textattack`` does it on
the attack path only.
"""
