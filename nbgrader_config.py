"""nbgrader configuration for the course (this folder is the course root).

`python -m grading` loads this file and runs nbgrader in a scratch copy of the
course with a throwaway gradebook, so no `gradebook.db` is ever written here.
"""

c = get_config()  # noqa: F821 (injected by traitlets)

c.CourseDirectory.root = "."
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.course_id = "sparse-representations"

# Feedback must never show hidden tests: nbgrader 0.9.6 keeps them otherwise.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    "nbgrader.preprocessors.ClearHiddenTests",
]
# Deleted test cells are restored and run instead of silently scoring 0.
c.OverwriteCells.add_missing_cells = True
# Per-cell limit; `python -m grading run --timeout S` overrides it.
c.ExecutePreprocessor.timeout = 60

# `zip_collect` (LMS downloads): `python -m grading run` reads file names as
# `<student>_<notebook>.ipynb` (Canvas' `late_`/`<id>_<id>_` prefix allowed) from
# the released notebook names. Set FileNameCollectorPlugin.named_regexp here only
# for another LMS's naming; it must define `student_id` and `file_id` groups.
