/* assert_close.h: a cmocka check that a computed value equals a hand-computed one within a
 * relative tolerance, printing both (the unit tests' one shared assertion beyond cmocka's). */
#ifndef MOESIM_TESTS_ASSERT_CLOSE_H
#define MOESIM_TESTS_ASSERT_CLOSE_H

#include <math.h>

#define assert_close(a, b, rel)                                                                              \
    do {                                                                                                     \
        double _a = (a), _b = (b);                                                                           \
        if (!(fabs(_a - _b) <= (rel) * fabs(_b)))                                                            \
            fail_msg("%s = %.9g, expected %.9g (rel tol %g)", #a, _a, _b, (double)(rel));                    \
    } while (0)

#endif
