{
  "targets": [
    {
      "target_name": "homeops_dns",
      "conditions": [
        [
          "OS=='linux'",
          {"sources": ["udp_answerer.c"]},
          {"type": "none"}
        ]
      ],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fno-strict-aliasing"],
      "libraries": ["-lm", "-lpthread"]
    }
  ]
}
