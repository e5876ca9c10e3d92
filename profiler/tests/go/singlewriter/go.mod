module clproftest/singlewriter

go 1.19
