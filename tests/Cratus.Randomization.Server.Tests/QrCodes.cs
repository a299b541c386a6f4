using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using ZXing;
using ZXing.Common;
using ZXing.QrCode;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// Reads the QR codes the server prints, as a bedside scanner would: the PNG decoded to pixels (a small PNG reader
/// for the grey or palette, 1- or 8-bit images the label uses) or the SVG drawn to pixels, then ZXing.Net's QR reader.
/// </summary>
internal static partial class QrCodes
{
    /// <summary>The text a QR code PNG holds.</summary>
    public static string DecodePng(byte[] png)
    {
        var (width, height, gray) = ReadPng(png);
        return Decode(gray, width, height);
    }

    /// <summary>The text a QR code SVG (one path of unit squares "M{x} {y}h1v1h-1z" in a viewBox of modules) holds.</summary>
    public static string DecodeSvg(string svg)
    {
        var size = int.Parse(ViewBox().Match(svg).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        const int scale = 8, quiet = 4;
        var side = (size + 2 * quiet) * scale;
        var gray = Enumerable.Repeat((byte)255, side * side).ToArray();
        foreach (Match m in Module().Matches(svg))
        {
            var x = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) + quiet;
            var y = int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) + quiet;
            for (var dy = 0; dy < scale; dy++)
                for (var dx = 0; dx < scale; dx++)
                    gray[(y * scale + dy) * side + x * scale + dx] = 0;
        }
        return Decode(gray, side, side);
    }

    private static string Decode(byte[] gray, int width, int height)
    {
        // A printed label is a clean, upright code in its quiet zone: read as such first (the finder-pattern search, for
        // photographs, missed some codes of some texts), then as a scanner reads a picture.
        var bitmap = new BinaryBitmap(new HybridBinarizer(new RGBLuminanceSource(gray, width, height, RGBLuminanceSource.BitmapFormat.Gray8)));
        var result = new QRCodeReader().decode(bitmap, new Dictionary<DecodeHintType, object> { [DecodeHintType.PURE_BARCODE] = true })
            ?? new QRCodeReader().decode(bitmap, new Dictionary<DecodeHintType, object> { [DecodeHintType.TRY_HARDER] = true })
            ?? throw new InvalidOperationException("no QR code found");
        return result.Text;
    }

    private static (int Width, int Height, byte[] Gray) ReadPng(byte[] png)
    {
        if (!png.AsSpan(0, 8).SequenceEqual(new byte[] { 137, 80, 78, 71, 13, 10, 26, 10 })) throw new InvalidDataException("not a PNG");
        int width = 0, height = 0, depth = 0, colour = 0;
        byte[] palette = [];
        using var idat = new MemoryStream();
        for (var at = 8; at < png.Length;)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at));
            var type = Encoding.ASCII.GetString(png, at + 4, 4);
            var data = png.AsSpan(at + 8, length);
            switch (type)
            {
                case "IHDR":
                    width = BinaryPrimitives.ReadInt32BigEndian(data);
                    height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                    depth = data[8];
                    colour = data[9];
                    break;
                case "PLTE":
                    palette = data.ToArray();
                    break;
                case "IDAT":
                    idat.Write(data);
                    break;
            }
            at += 12 + length;
        }
        idat.Position = 0;
        using var inflated = new MemoryStream();
        using (var z = new ZLibStream(idat, CompressionMode.Decompress)) z.CopyTo(inflated);
        var raw = inflated.ToArray();
        if (colour is not (0 or 3) || depth is not (1 or 8)) throw new InvalidDataException($"PNG colour type {colour}, depth {depth} is not read here");
        var stride = (width * depth + 7) / 8;
        var gray = new byte[width * height];
        var previous = new byte[stride];
        for (var y = 0; y < height; y++)
        {
            var filter = raw[y * (stride + 1)];
            var line = raw.AsSpan(y * (stride + 1) + 1, stride).ToArray();
            var bpp = Math.Max(1, depth / 8);
            for (var i = 0; i < stride; i++)
            {
                int a = i >= bpp ? line[i - bpp] : 0, b = previous[i], c = i >= bpp ? previous[i - bpp] : 0;
                line[i] = (byte)(line[i] + filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    4 => Paeth(a, b, c),
                    _ => throw new InvalidDataException("unknown PNG filter"),
                });
            }
            for (var x = 0; x < width; x++)
            {
                var value = depth == 8 ? line[x] : (line[x / 8] >> (7 - x % 8)) & 1;
                gray[y * width + x] = colour == 3 ? palette[value * 3] : (byte)(depth == 1 ? value * 255 : value);
            }
            previous = line;
        }
        return (width, height, gray);
    }

    private static int Paeth(int a, int b, int c)
    {
        var p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    [GeneratedRegex("""viewBox="0 0 (\d+) \d+" """)]
    private static partial Regex ViewBox();

    [GeneratedRegex(@"M(\d+) (\d+)h1v1h-1z")]
    private static partial Regex Module();
}
