// The floor for timer lateness on this machine: a process that sleeps until each whole
// second with clock_nanosleep(TIMER_ABSTIME) and measures how late it woke.
// usage: timers_baseline SECONDS
#include <time.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  int seconds = argc > 1 ? std::atoi(argv[1]) : 10;
  for (int i = 0; i < seconds; ++i) {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    timespec target{now.tv_sec + 1, 0};
    clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &target, nullptr);
    clock_gettime(CLOCK_REALTIME, &now);
    long long late = (static_cast<long long>(now.tv_sec) - target.tv_sec) * 1000000 + now.tv_nsec / 1000;
    std::printf("lateness_us %lld\n", late);
    std::fflush(stdout);
  }
  return 0;
}
