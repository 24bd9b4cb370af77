namespace Ori.Sockets;

/// <summary>One validation failure: where it is (a JSON path such as <c>$.data.status</c>) and what is wrong.</summary>
/// <param name="Path">The JSON path of the value at fault.</param>
/// <param name="Message">What is wrong, for humans.</param>
public sealed record SocketValidationError(string Path, string Message);
