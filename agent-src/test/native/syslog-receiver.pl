# A syslogd stand-in for native.test.ts: binds a datagram socket at ARGV[0], says READY, and does
# not read it (so senders fill its queue) until SIGUSR1 or 30 s; then prints every datagram, one
# per line, and exits after 3 s of quiet. perl-base is part of every Debian system.
use strict;
use Socket;
my $path = shift or die "usage: syslog-receiver.pl SOCKET_PATH\n";
socket(my $s, PF_UNIX, SOCK_DGRAM, 0) or die "socket: $!\n";
bind($s, pack_sockaddr_un($path)) or die "bind $path: $!\n";
$| = 1;
print "READY\n";
my $drain = 0;
$SIG{USR1} = sub { $drain = 1 };
for (my $i = 0; $i < 300 && !$drain; $i++) { select(undef, undef, undef, 0.1) }
my $rin = '';
vec($rin, fileno($s), 1) = 1;
for (my $n = 0; $n < 100000; $n++) {
    last if select(my $rout = $rin, undef, undef, 3) <= 0;
    recv($s, my $buf, 8192, 0);
    print "$buf\n";
}
