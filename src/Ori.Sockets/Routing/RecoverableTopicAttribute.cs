namespace Ori.Sockets;

/// <summary>
/// Makes topics recoverable (protocol section 8), declared on a router: the generated <c>AddSocketRouters()</c> adds them
/// as <see cref="OriSocketsBuilder.AddRecoverableTopics"/> would. The generator checks the pattern and the bounds (ORI027).
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class RecoverableTopicAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="pattern">A topic, or a topic prefix followed by <c>*</c> (<c>incidents:*</c>).</param>
    public RecoverableTopicAttribute(string pattern) => Pattern = pattern;

    /// <summary>A topic, or a topic prefix followed by <c>*</c>.</summary>
    public string Pattern { get; }

    /// <summary>The most pushes kept per topic; at least 1. Default 100.</summary>
    public int MaxMessages { get; set; } = 100;

    /// <summary>The oldest push kept, in seconds; at least 1. Default 600 (10 minutes).</summary>
    public int MaxAgeSeconds { get; set; } = 600;
}
