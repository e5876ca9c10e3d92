module clproftest

go 1.19
