module clproftest/racemap

go 1.19
