using System.Globalization;
using System.Text;

namespace Ori.Sockets;

/// <summary>
/// Collects validation failures with their JSON paths while a message is read or checked.
/// Paths are built only when a failure is recorded, so a valid message costs no strings.
/// An instance is reused between messages (see <see cref="Reset(string)"/>) and is not thread-safe.
/// </summary>
public sealed class SocketValidationContext
{
    private readonly List<SocketValidationError> _errors = [];
    private PathSegment[] _segments = []; // grown on the first member entered: an idle connection holds none
    private int _depth;
    private string _root;

    /// <summary>Creates a context whose paths start at <paramref name="root"/>.</summary>
    /// <param name="root">The path of the value being validated, for example <c>$.data</c>.</param>
    public SocketValidationContext(string root = "$") => _root = root;

    /// <summary>Whether any failure was recorded.</summary>
    public bool HasErrors => _errors.Count > 0;

    /// <summary>The failures recorded so far, in the order they were found.</summary>
    public IReadOnlyList<SocketValidationError> Errors => _errors;

    /// <summary>Forgets every failure and path segment, and sets a new root path.</summary>
    /// <param name="root">The path of the value being validated next.</param>
    public void Reset(string root = "$")
    {
        _errors.Clear();
        _depth = 0;
        _root = root;
    }

    /// <summary>Enters a member: failures recorded until <see cref="Pop"/> are under <c>.name</c>.</summary>
    /// <param name="name">The member name as it appears in JSON.</param>
    public void PushProperty(string name) => Push(new PathSegment(name, -1));

    /// <summary>Enters an array element: failures recorded until <see cref="Pop"/> are under <c>[index]</c>.</summary>
    /// <param name="index">The element index.</param>
    public void PushIndex(int index) => Push(new PathSegment(null, index));

    /// <summary>Leaves the segment entered last.</summary>
    public void Pop()
    {
        if (_depth == 0)
        {
            throw new InvalidOperationException("Pop was called more often than PushProperty or PushIndex.");
        }

        _depth--;
    }

    /// <summary>Records a failure at the current path.</summary>
    /// <param name="message">What is wrong, for humans.</param>
    public void AddError(string message) => _errors.Add(new SocketValidationError(CurrentPath(), message));

    /// <summary>Records a failure at a member of the current value.</summary>
    /// <param name="propertyName">The member name as it appears in JSON.</param>
    /// <param name="message">What is wrong, for humans.</param>
    public void AddError(string propertyName, string message)
    {
        PushProperty(propertyName);
        AddError(message);
        Pop();
    }

    /// <summary>Builds the current path, for example <c>$.data.items[2].name</c>.</summary>
    /// <returns>The path.</returns>
    public string CurrentPath()
    {
        if (_depth == 0)
        {
            return _root;
        }

        var builder = new StringBuilder(_root);
        for (var i = 0; i < _depth; i++)
        {
            var segment = _segments[i];
            if (segment.Name is null)
            {
                builder.Append('[').Append(segment.Index.ToString(CultureInfo.InvariantCulture)).Append(']');
            }
            else if (IsPlainName(segment.Name))
            {
                builder.Append('.').Append(segment.Name);
            }
            else
            {
                // JSONPath bracket notation keeps names with dots, spaces or quotes unambiguous.
                builder.Append("['").Append(segment.Name.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal)).Append("']");
            }
        }

        return builder.ToString();
    }

    private void Push(PathSegment segment)
    {
        if (_depth == _segments.Length)
        {
            Array.Resize(ref _segments, Math.Max(8, _segments.Length * 2));
        }

        _segments[_depth++] = segment;
    }

    private static bool IsPlainName(string name)
    {
        if (name.Length == 0 || char.IsAsciiDigit(name[0]))
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '_' && c != '$')
            {
                return false;
            }
        }

        return true;
    }

    private readonly record struct PathSegment(string? Name, int Index);
}
