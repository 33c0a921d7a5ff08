# imqctl's command line without a running imqd (cli.sh), and the nftables
# table of `imqctl rules --nft` loaded into a namespace (nft.sh: root and
# nft, skipped otherwise).
add_test(NAME imqctl_cli
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/cli.sh $<TARGET_FILE:imqctl> $<TARGET_FILE:imqd>)
set_tests_properties(imqctl_cli PROPERTIES TIMEOUT 60 LABELS cli)
add_test(NAME imqctl_nft COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/nft.sh $<TARGET_FILE:imqctl>)
set_tests_properties(imqctl_nft PROPERTIES TIMEOUT 60 LABELS cli SKIP_RETURN_CODE 77)
