node_modules/.bin/bun cli/main.ts meltdown --lab --rate 100 --loss 0,0.5,1,2,5 -t 10 --openvpn --cc cubic --outer-cc-shim $TMP/tcpcc.so
