module clproftest/growmap

go 1.19
