"""nbgrader's release step with the lessons' own stubs.

A course written by `puffer-learn course` loads this from its
nbgrader_config.py. nbgrader's ClearSolutions replaces a solution region with
one stub per notebook language (Python's `raise NotImplementedError()`),
which lands inside the C source of a C exercise, and it knows nothing of the
lessons' STUB blocks. Ours replaces every solution block with the stub the
student copies get (puffer_learn/course/markers.py), so a release notebook's
exercise cells read exactly like lessons/student/.
"""
from nbgrader.converters import GenerateAssignment
from nbgrader.preprocessors import ClearSolutions as NbgraderClearSolutions

from puffer_learn.course.markers import SOLUTION_BLOCK, student_source


class ClearSolutions(NbgraderClearSolutions):
    def _replace_solution_region(self, cell, language):
        if cell.cell_type == "code" and SOLUTION_BLOCK.search(cell.source + "\n"):
            cell.source = student_source(cell.source)
            return True
        return super()._replace_solution_region(cell, language)


def release_preprocessors():
    """nbgrader's generate_assignment steps, with our ClearSolutions in place of its own."""
    steps = GenerateAssignment.class_traits()["preprocessors"].default()
    if NbgraderClearSolutions not in steps:
        raise RuntimeError("this nbgrader's generate_assignment has no ClearSolutions step: "
                           "install nbgrader 0.9 (pip install 'puffer_learn[classroom]')")
    return [ClearSolutions if step is NbgraderClearSolutions else step for step in steps]
