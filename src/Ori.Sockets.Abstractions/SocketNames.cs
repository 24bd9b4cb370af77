#if ORI_SOCKETS_GENERATOR
using System;
#endif
using Ori.Sockets.Protocol;

namespace Ori.Sockets;

/// <summary>The rules for topic (room) names and message names, shared by servers, clients and the generator.</summary>
#if ORI_SOCKETS_GENERATOR
internal
#else
public
#endif
static class SocketNames
{
    /// <summary>The longest topic, in characters.</summary>
    public const int MaxTopicLength = 256;

    /// <summary>The longest message name (envelope <c>type</c>), in characters.</summary>
    public const int MaxTypeLength = 128;

    /// <summary>The longest correlation id, in characters.</summary>
    public const int MaxCorrelationIdLength = 128;

    /// <summary>The longest user id, in characters.</summary>
    public const int MaxUserIdLength = 256;

    /// <summary>The rule for user ids, for messages that explain a refusal.</summary>
    internal const string UserIdRule = "1-256 characters, none of them a control character or white space";

    /// <summary>The characters a name may use, for messages that explain a refusal.</summary>
    internal const string NameCharacters = "A-Z a-z 0-9 _ . : -";

    /// <summary>The rule for message names, for messages that explain a refusal.</summary>
    internal const string TypeRule = "1-128 characters of " + NameCharacters;

    /// <summary>The rule for topics, for messages that explain a refusal.</summary>
    internal const string TopicRule = "1-256 characters of " + NameCharacters;

    /// <summary>
    /// Whether <paramref name="userId"/> is a valid user id: 1–256 characters, none of them a control character or white
    /// space (an email, a GUID, <c>auth0|123</c> all are).
    /// </summary>
    /// <param name="userId">The user id to check.</param>
    /// <returns><see langword="true"/> when it is valid.</returns>
    public static bool IsValidUserId(ReadOnlySpan<char> userId)
    {
        if (userId.IsEmpty || userId.Length > MaxUserIdLength)
        {
            return false;
        }

        foreach (var c in userId)
        {
            if (char.IsControl(c) || char.IsWhiteSpace(c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether <paramref name="topic"/> is 1–256 characters of <c>A-Z a-z 0-9 _ : . -</c>.</summary>
    /// <param name="topic">The topic to check.</param>
    /// <returns><see langword="true"/> when the topic is valid.</returns>
    public static bool IsValidTopic(ReadOnlySpan<char> topic) => IsValidName(topic, MaxTopicLength);

    /// <summary>Whether <paramref name="type"/> is 1–128 characters of <c>A-Z a-z 0-9 _ . : -</c>.</summary>
    /// <param name="type">The message name to check.</param>
    /// <returns><see langword="true"/> when the name is valid.</returns>
    public static bool IsValidType(ReadOnlySpan<char> type) => IsValidName(type, MaxTypeLength);

    /// <summary>Whether the UTF-8 bytes are 1–128 characters of <c>A-Z a-z 0-9 _ . : -</c>.</summary>
    /// <param name="type">The message name to check, as UTF-8.</param>
    /// <returns><see langword="true"/> when the name is valid.</returns>
    public static bool IsValidType(ReadOnlySpan<byte> type)
    {
        if (type.IsEmpty || type.Length > MaxTypeLength)
        {
            return false;
        }

        foreach (var b in type)
        {
            if (!IsNameByte(b))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether a client may never join <paramref name="topic"/> (it begins with <c>__</c>).</summary>
    /// <param name="topic">The topic to check.</param>
    /// <returns><see langword="true"/> for reserved topics.</returns>
    public static bool IsReservedTopic(ReadOnlySpan<char> topic) => topic.StartsWith(WireNames.ReservedTopicPrefix.AsSpan(), StringComparison.Ordinal);

    /// <summary>Whether <paramref name="type"/> is reserved by the protocol (<c>ori.*</c> and the built-in types).</summary>
    /// <param name="type">The message name to check.</param>
    /// <returns><see langword="true"/> for reserved names.</returns>
    public static bool IsReservedType(ReadOnlySpan<char> type)
    {
        if (type.StartsWith(WireNames.ReservedPrefix.AsSpan(), StringComparison.Ordinal))
        {
            return true;
        }

        foreach (var builtIn in WireNames.BuiltInTypes)
        {
            if (type.SequenceEqual(builtIn.AsSpan()))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsValidName(ReadOnlySpan<char> name, int maxLength)
    {
        if (name.IsEmpty || name.Length > maxLength)
        {
            return false;
        }

        foreach (var c in name)
        {
            if (c > 0x7F || !IsNameByte((byte)c))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsNameByte(byte b) =>
        b is (>= (byte)'a' and <= (byte)'z') or (>= (byte)'A' and <= (byte)'Z') or (>= (byte)'0' and <= (byte)'9')
            or (byte)'_' or (byte)'.' or (byte)':' or (byte)'-';
}
