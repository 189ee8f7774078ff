/* rawterm: terminal state a checkpoint must put back -- the termios
 * settings of a raw-mode program.  It reads one key at a time with echo
 * off, answers each key as "key: X", and quits on 'q', restoring the
 * terminal exactly as it found it. */
#define _DEFAULT_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static void write_text(const char *text)
{
	(void)!write(STDOUT_FILENO, text, strlen(text));
}

/* What cfmakeraw() does, spelled out: no line editing, echo, signals from
 * keys, CR/NL translation or output processing; reads return per byte. */
static struct termios raw_mode_of(struct termios mode)
{
	mode.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	mode.c_oflag &= ~(tcflag_t)OPOST;
	mode.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	mode.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
	mode.c_cflag |= CS8;
	mode.c_cc[VMIN] = 1;
	mode.c_cc[VTIME] = 0;
	return mode;
}

/* Output processing is off, so lines end in an explicit "\r\n". */
static void answer_key(unsigned char key)
{
	char line[32];
	if (isprint(key))
		snprintf(line, sizeof line, "key: %c\r\n", toupper(key));
	else
		snprintf(line, sizeof line, "key: 0x%02x\r\n", key);
	write_text(line);
}

static void read_keys_until_q(void)
{
	unsigned char key;
	while (read(STDIN_FILENO, &key, 1) == 1 && key != 'q')
		answer_key(key);
}

int main(void)
{
	struct termios saved;
	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved) < 0) {
		puts("not a tty");
		return 2;
	}
	struct termios raw = raw_mode_of(saved);
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) < 0) {
		perror("tcsetattr");
		return 1;
	}
	write_text("press keys, q quits\r\n");
	read_keys_until_q();
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
	write_text("bye\n");
	return 0;
}
