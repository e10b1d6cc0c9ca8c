" 

rReadFile

pPyFunc