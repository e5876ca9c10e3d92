module clproftest/sharedmap

go 1.19
