"""The lessons' exercises, one module per lesson (lesson0 ... lesson9): each
exercise with its checker, tiered hints and solution, as module-level names.
A notebook imports its lesson's module:

    from puffer_learn.widgets.lessons import lesson0 as ex
    ex.agents.check(agents_stepped)

Checkers say what is wrong without giving the answer away. Helpers that
several lessons use (showing a section of a packaged C file, ...) live in
shared.py.
"""
