//! LOLWUT [VERSION v] [args...]: computer art and the server version, as Redis 7.0 draws it.
//!
//! Redis 7.0's own version prints only `Redis ver. 7.0.15`; VERSION 5 (and 4.9) draws Georg
//! Nees' "Schotter" in braille characters, VERSION 6 (and 5.9) a city skyline in ANSI colours.
//! Both drawings are random (Redis uses `rand()`), so only their size, alphabet and captions
//! are reproducible.

use bytes::Bytes;

use super::flags::*;
use super::{CommandSpec, Ctx, is};
use crate::error;
use crate::protocol::Reply;

const VERSION: &str = "7.0.15";

// LOLWUT [VERSION version] [cols [rows...]]
fn lolwut(_ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let mut args = &args[1..];
    let mut version = VERSION.to_string();
    if args.len() >= 2 && is(&args[0], "version") {
        let Some(v) = crate::num::string2ll(&args[1]) else {
            return Reply::error(error::NOT_INTEGER);
        };
        // Redis prints the number as an unsigned int and dispatches on the text.
        version = format!("{}.0.0", v as u32);
        args = &args[2..];
    }
    let v = version.as_bytes();
    let text = if (v.starts_with(b"5.") && v[2] != b'9') || v.starts_with(b"4.9") {
        tri!(schotter_reply(args))
    } else if (v.starts_with(b"6.") && v[2] != b'9') || v.starts_with(b"5.9") {
        tri!(skyline_reply(args))
    } else {
        format!("Redis ver. {VERSION}\n")
    };
    Reply::Verbatim(Bytes::from(text))
}

/// The optional integer arguments, with their defaults, clamped to `1..=max`.
fn int_args<const N: usize>(
    args: &[Bytes],
    defaults: [i64; N],
    max: [i64; N],
) -> Result<[i64; N], Reply> {
    let mut out = defaults;
    for (i, a) in args.iter().take(N).enumerate() {
        out[i] = crate::num::string2ll(a).ok_or_else(|| Reply::error(error::NOT_INTEGER))?;
    }
    for i in 0..N {
        out[i] = out[i].clamp(1, max[i]);
    }
    Ok(out)
}

/// C's `rand()`: 0..=RAND_MAX (2^31-1).
fn crand() -> i32 {
    rand::random_range(0..=i32::MAX)
}

/// A canvas of small colour indexes (0 black .. 3 white).
struct Canvas {
    width: i32,
    height: i32,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: i32, height: i32, bg: u8) -> Canvas {
        Canvas {
            width,
            height,
            pixels: vec![bg; (width.max(0) as usize) * (height.max(0) as usize)],
        }
    }

    fn set(&mut self, x: i32, y: i32, color: u8) {
        if (0..self.width).contains(&x) && (0..self.height).contains(&y) {
            self.pixels[(x + y * self.width) as usize] = color;
        }
    }

    fn get(&self, x: i32, y: i32) -> u8 {
        if (0..self.width).contains(&x) && (0..self.height).contains(&y) {
            self.pixels[(x + y * self.width) as usize]
        } else {
            0
        }
    }

    /// Bresenham's line from (x1,y1) to (x2,y2).
    fn line(&mut self, (mut x1, mut y1): (i32, i32), (x2, y2): (i32, i32), color: u8) {
        let (dx, dy) = ((x2 - x1).abs(), (y2 - y1).abs());
        let (sx, sy) = (if x1 < x2 { 1 } else { -1 }, if y1 < y2 { 1 } else { -1 });
        let mut err = dx - dy;
        loop {
            self.set(x1, y1, color);
            if x1 == x2 && y1 == y2 {
                break;
            }
            let e2 = err * 2;
            if e2 > -dy {
                err -= dy;
                x1 += sx;
            }
            if e2 < dx {
                err += dx;
                y1 += sy;
            }
        }
    }

    /// A square centred on (x,y), `size` wide, rotated by `angle` radians.
    fn square(&mut self, x: i32, y: i32, size: f32, angle: f32) {
        // The corners lie on a circle: the side of the inscribed square is sqrt(2) times
        // smaller than the diameter.
        let r = ((size as f64 / std::f64::consts::SQRT_2) as f32).round() as f64;
        let corner = |j: i32| {
            let k = (std::f32::consts::FRAC_PI_4 + angle) as f64
                + j as f64 * std::f64::consts::FRAC_PI_2;
            let k = k as f32 as f64;
            (
                (k.sin() * r + x as f64).round() as i32,
                (k.cos() * r + y as f64).round() as i32,
            )
        };
        for j in 0..4 {
            self.line(corner(j), corner((j + 1) % 4), 1);
        }
    }
}

/// Version 5: Schotter, `cols` characters wide (two pixels each), in braille dots.
fn schotter_reply(args: &[Bytes]) -> Result<String, Reply> {
    let [cols, per_row, per_col] = int_args(args, [66, 8, 12], [1000, 200, 200])?;
    let (cols, per_row, per_col) = (cols as i32, per_row as i32, per_col as i32);
    let width = cols * 2;
    let padding = if width > 4 { 2 } else { 0 };
    let side = (width - padding * 2) as f32 / per_row as f32;
    let height = (side * per_col as f32 + (padding * 2) as f32) as i32;
    let mut canvas = Canvas::new(width, height, 0);
    for y in 0..per_col {
        for x in 0..per_row {
            let mut sx = (x as f32 * side + side / 2.0 + padding as f32) as i32;
            let mut sy = (y as f32 * side + side / 2.0 + padding as f32) as i32;
            let mut angle = 0.0f32;
            // Rows further down are rotated and shifted more.
            if y > 1 {
                let jitter = || crand() as f32 / i32::MAX as f32 / per_col as f32 * y as f32;
                let (mut r1, mut r2, mut r3) = (jitter(), jitter(), jitter());
                for r in [&mut r1, &mut r2, &mut r3] {
                    if crand() % 2 == 1 {
                        *r = -*r;
                    }
                }
                angle = r1;
                sx = (sx as f32 + r2 * side / 3.0) as i32;
                sy = (sy as f32 + r3 * side / 3.0) as i32;
            }
            canvas.square(sx, sy, side, angle);
        }
    }
    let mut out = String::new();
    for y in (0..canvas.height).step_by(4) {
        for x in (0..canvas.width).step_by(2) {
            // Braille dots 1-8 for the 2x4 pixel block.
            let dots = [
                (0, 0),
                (0, 1),
                (0, 2),
                (1, 0),
                (1, 1),
                (1, 2),
                (0, 3),
                (1, 3),
            ];
            let mut bits = 0u32;
            for (i, (dx, dy)) in dots.iter().enumerate() {
                if canvas.get(x + dx, y + dy) != 0 {
                    bits |= 1 << i;
                }
            }
            out.push(char::from_u32(0x2800 + bits).unwrap_or(' '));
        }
        if y != canvas.height - 1 {
            out.push('\n');
        }
    }
    out.push_str("\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. ");
    out.push_str(VERSION);
    out.push('\n');
    Ok(out)
}

struct Skyscraper {
    xoff: i32,
    width: i32,
    height: i32,
    windows: bool,
    color: u8,
}

impl Canvas {
    fn skyscraper(&mut self, s: &Skyscraper) {
        let bottom = self.height - 1;
        let top = bottom - s.height + 1;
        for y in (top..=bottom).rev() {
            for x in s.xoff..s.xoff + s.width {
                // The roof is four pixels narrower.
                if y == top && (x <= s.xoff + 1 || x >= s.xoff + s.width - 2) {
                    continue;
                }
                let mut color = s.color;
                let inner =
                    x > s.xoff + 1 && x < s.xoff + s.width - 2 && y > top + 1 && y < bottom - 1;
                if s.windows && inner {
                    let (relx, rely) = (x - (s.xoff + 1), y - (top + 1));
                    // Windows two pixels wide and one tall (terminal cells are not square).
                    if (relx / 2) % 2 != 0 && rely % 2 != 0 {
                        loop {
                            color = 1 + (crand() % 2) as u8;
                            if color != s.color {
                                break;
                            }
                        }
                        if relx % 2 != 0 {
                            color = self.get(x - 1, y);
                        }
                    }
                }
                self.set(x, y, color);
            }
        }
    }
}

/// Version 6: a skyline of `cols` x `rows` coloured cells.
fn skyline_reply(args: &[Bytes]) -> Result<String, Reply> {
    let [cols, rows] = int_args(args, [80, 20], [1000, 1000])?;
    let mut canvas = Canvas::new(cols as i32, rows as i32, 3);
    let (w, h) = (canvas.width, canvas.height);
    // Background buildings without windows, the lighter grey behind.
    for color in [2u8, 1] {
        let mut offset = -10;
        while offset < w {
            offset += crand() % 8;
            let width = 10 + crand() % 9;
            let height = if color == 2 {
                h / 2 + (crand() % h) / 2
            } else {
                h / 2 + (crand() % h) / 3
            };
            canvas.skyscraper(&Skyscraper {
                xoff: offset,
                width,
                height,
                windows: false,
                color,
            });
            offset += if color == 2 { width / 2 } else { width + 1 };
        }
    }
    // Foreground buildings with lit windows.
    let mut offset = -10;
    while offset < w {
        offset += crand() % 8;
        let mut width = 5 + crand() % 14;
        if width % 4 != 0 {
            width += width % 3;
        }
        let height = h / 3 + (crand() % h) / 2;
        canvas.skyscraper(&Skyscraper {
            xoff: offset,
            width,
            height,
            windows: true,
            color: 0,
        });
        offset += width + 5;
    }
    let mut out = String::new();
    for y in 0..h {
        for x in 0..w {
            let esc = match canvas.get(x, y) {
                1 => "0;90;100m",
                2 => "0;37;47m",
                3 => "0;97;107m",
                _ => "0;30;40m",
            };
            out.push_str("\x1b[");
            out.push_str(esc);
            out.push_str(" \x1b[0m");
        }
        if y != h - 1 {
            out.push('\n');
        }
    }
    out.push_str(
        "\nDedicated to the 8 bit game developers of past and present.\n\
         Original 8 bit image from Plaguemon by hikikomori. Redis ver. ",
    );
    out.push_str(VERSION);
    out.push('\n');
    Ok(out)
}

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new("lolwut", -1, READONLY | FAST, lolwut)
    .group("server")
    .doc("Display some computer art and the Redis version", "5.0.0")];
