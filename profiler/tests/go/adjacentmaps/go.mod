module clproftest/adjacentmaps

go 1.19
