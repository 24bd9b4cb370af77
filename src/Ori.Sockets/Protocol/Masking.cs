using System.Buffers;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Ori.Sockets.Protocol;

/// <summary>Unmasks client payloads (RFC 6455 5.3) while copying them out of the transport buffer.</summary>
internal static class Masking
{
    /// <summary>
    /// Copies <paramref name="source"/> into <paramref name="destination"/>, XOR-ing with the mask.
    /// <paramref name="offset"/> is the payload position of the first byte, so that a payload copied in
    /// pieces keeps the mask aligned.
    /// </summary>
    public static void CopyUnmasked(in ReadOnlySequence<byte> source, Span<byte> destination, uint mask, long offset)
    {
        var written = 0;
        foreach (var segment in source)
        {
            Unmask(segment.Span, destination.Slice(written, segment.Length), mask, offset + written);
            written += segment.Length;
        }
    }

    private static void Unmask(ReadOnlySpan<byte> source, Span<byte> destination, uint mask, long offset)
    {
        // Rotate the key so that byte 0 of this piece lines up with its position in the payload.
        var shift = (int)(offset & 3) * 8;
        var rotated = shift == 0 ? mask : BitOperations.RotateRight(mask, shift);
        var i = 0;
        if (source.Length >= 8)
        {
            var wide = rotated | ((ulong)rotated << 32);
            var sourceLongs = MemoryMarshal.Cast<byte, ulong>(source);
            var destinationLongs = MemoryMarshal.Cast<byte, ulong>(destination);
            for (var j = 0; j < sourceLongs.Length; j++)
            {
                destinationLongs[j] = sourceLongs[j] ^ wide;
            }

            i = sourceLongs.Length * 8;
        }

        for (; i < source.Length; i++)
        {
            destination[i] = (byte)(source[i] ^ (byte)(rotated >> ((i & 3) * 8)));
        }
    }
}
