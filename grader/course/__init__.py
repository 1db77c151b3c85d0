"""The course tools, one module per concern: class grading (batch), student
releases and publishing (dist), the leak check (leaks), the Gradescope
autograder (gradescope/), the GitHub Classroom workflow and its local runner
(classroom/). Lab tests and the harness stay in grader/, where
students and TAs look; nothing here is needed to grade one's own work."""
