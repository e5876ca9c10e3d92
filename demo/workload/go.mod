module clprofdemo

go 1.19
