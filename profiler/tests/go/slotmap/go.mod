module clproftest/slotmap

go 1.19
