// parse_floor: how little CPU parsing the API's pages can take, measured with simdjson (the
// fastest JSON parser there is: SIMD, "parsing gigabytes of JSON per second"), for bench/e2e.
//
//   g++ -std=c++17 -O2 -o build/parse_floor bench/parse_floor.cpp -lsimdjson
//   build/parse_floor pages.ndjson [repeats]
//
// pages.ndjson holds one page per line, as the server sent them. Each page is parsed by
// simdjson's DOM parser (the kernel picked at run time for this processor: AVX-512 or AVX2
// where there is one; its On-Demand API is compiled for the generic kernel by Debian's header,
// and is slower here): the whole input UTF-8 validated, every string unescaped, every number
// converted (exact integers, correctly rounded doubles), into simdjson's own tape. Nothing is
// made for Lua: no table, no string. So it is less than what any decoder that turns these bytes
// into Lua values must spend on parsing; bench/e2e adds it to the cost of the Lua C API calls
// alone (its "floor" child) for a bound no client of this design can go below.
//
// Prints "PARSEFLOOR <cpu seconds for all pages, best of repeats> <pages> <bytes> <records>
// <kernel>". Bench-only: needs Debian's libsimdjson-dev and g++ (bench/e2e skips the row
// without them).
#include <simdjson.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

using namespace simdjson;

static double cpu_now() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s pages.ndjson [repeats]\n", argv[0]);
    return 2;
  }
  int repeats = argc > 2 ? std::atoi(argv[2]) : 5;
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "parse_floor: cannot read %s\n", argv[1]);
    return 2;
  }
  std::vector<padded_string> pages;
  size_t bytes = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    bytes += line.size();
    pages.emplace_back(line);
  }
  dom::parser parser;
  double best = 1e30;
  size_t records = 0;
  for (int r = 0; r < repeats; r++) {
    size_t n = 0;
    double t0 = cpu_now();
    for (auto &page : pages) {
      dom::element doc;
      dom::array items;
      auto err = parser.parse(page).get(doc);
      if (!err) err = doc["items"].get_array().get(items);
      if (err) {
        std::fprintf(stderr, "parse_floor: %s\n", error_message(err));
        return 1;
      }
      n += items.size();
    }
    double t = cpu_now() - t0;
    if (t < best) best = t;
    records = n;
  }
  std::printf("PARSEFLOOR %.6f %zu %zu %zu %s\n", best, pages.size(), bytes, records,
              get_active_implementation()->name().c_str());
  return 0;
}
